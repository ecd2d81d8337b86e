// The certificate writer must produce DER that OpenSSL accepts every time, not most of the time:
// mint many and parse each one (serials are random, so encoding edge cases come up quickly).
import t from "tap";
import { X509Certificate } from "node:crypto";
import tls from "node:tls";
import { createCertificate } from "../src/sim/x509.ts";

t.test("1500 certificates in a row parse, verify and load into a TLS context", async (t) => {
  const ca = createCertificate({ commonName: "Test CA", organization: "SLM", isCA: true });
  let failures = 0;
  for (let i = 0; i < 1500; i++) {
    const leaf = createCertificate({
      commonName: `leaf-${i}`,
      altNames: ["localhost", "127.0.0.1", "::1"],
      issuer: ca,
    });
    try {
      const x509 = new X509Certificate(leaf.certPem);
      if (!x509.verify(new X509Certificate(ca.certPem).publicKey)) failures++;
      tls.createSecureContext({ cert: leaf.certPem, key: leaf.keyPem });
    } catch {
      failures++;
    }
  }
  t.equal(failures, 0, "every certificate is valid DER, signed by the CA, and usable by TLS");
});

t.test("subject alternative names and CA flags are what was asked for", async (t) => {
  const ca = createCertificate({ commonName: "Test CA", isCA: true });
  const leaf = new X509Certificate(
    createCertificate({ commonName: "l", altNames: ["a.example", "10.0.0.1", "::1"], issuer: ca }).certPem,
  );
  t.equal(leaf.subjectAltName, "DNS:a.example, IP Address:10.0.0.1, IP Address:0:0:0:0:0:0:0:1");
  t.equal(leaf.ca, false);
  t.equal(new X509Certificate(ca.certPem).ca, true);
  t.match(leaf.issuer, /CN=Test CA/);
});
