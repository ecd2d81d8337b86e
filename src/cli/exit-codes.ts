export const EXIT = {
  /** No check failed or errored and at least one passed (skips allowed unless --fail-on-skip). */
  ok: 0,
  /** A check failed or errored, a skip under --fail-on-skip, or nothing passed (NOTHING VERIFIED). */
  checkFailed: 1,
  /** Bad flags, unreadable files, untrusted certificate without --ca/--insecure. */
  usage: 2,
  /** The target cannot be reached (connect refused/timed out, DNS, TLS handshake). */
  unreachable: 3,
  /** A bug in slmc-check itself; the message carries the stack trace. */
  internal: 4,
  /** Stopped by Ctrl-C (SIGINT); a partial report was still written. */
  interrupted: 130,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.usage);
