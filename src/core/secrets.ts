// Secrets never leave the process unless the operator asks (--show-secrets): every reporter's output
// and every progress line passes through mask().
export const MASK = "********";

export function createMasker(secrets: string[]): (text: string) => string {
  const ordered = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  if (ordered.length === 0) return (text) => text;
  const escaped = ordered.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const pattern = new RegExp(escaped.join("|"), "g");
  return (text) => text.replace(pattern, MASK);
}

/** Forms a secret takes inside JSON output (quotes and backslashes escaped). */
export function jsonForms(secret: string): string[] {
  return [secret, JSON.stringify(secret).slice(1, -1)];
}
