// Credentials as HTTP headers, and the forms the password takes in output (for the masker).
import type { Access } from "../probes/access.ts";

export type { Access };

export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

export function bearerAuthorization(password: string): string {
  return `Bearer ${password}`;
}

/** Every string that would disclose the password if printed. */
export function secretForms(access: Access): string[] {
  if (!access.password) return [];
  const forms = [
    access.password,
    Buffer.from(`${access.user}:${access.password}`).toString("base64"),
    encodeURIComponent(access.password),
  ];
  return [...new Set(forms)].filter((form) => form.length >= 3);
}
