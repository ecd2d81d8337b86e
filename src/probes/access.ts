// How slmc-check reaches a target: addresses, ports, credentials and TLS trust. Built once from the
// command line (src/cli); the probes bind to it and checks only read it (CheckContext.access).
import type { SshOptions } from "./ssh.ts";

export interface Access {
  host: string;
  httpsPort: number;
  httpPort: number;
  user: string;
  password?: string;
  ca?: string;
  caFile?: string;
  insecure: boolean;
  servername?: string;
  /** Per-request timeout for ordinary API calls. */
  requestTimeoutMs: number;
  /** Longest silence tolerated inside an SSE stream. */
  streamIdleTimeoutMs: number;
  /** Whole-stream timeout for a streamed completion. */
  streamTimeoutMs: number;
  /** Max tokens asked for in test completions. */
  maxTokens: number;
  /** Set when the target is the embedded simulator: reports must say so. */
  simulated: boolean;
  /** The engine port as reachable from the harness (outside binding check); default 8080. */
  enginePort?: number;
  /** The operator demands offline operation (--expect-offline): outbound network from the VM fails. */
  expectOffline?: boolean;
  /** What the VM tries to reach to find out whether it has outbound network (--outbound-probe). */
  outboundProbeUrl?: string;
  /** SSH access, when configured (see src/probes/ssh.ts). */
  ssh?: SshOptions;
}
