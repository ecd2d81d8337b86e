declare const SLMC_VERSION: string | undefined;

/** Injected by `bun build --define`; "dev" when running from source. */
export const VERSION: string = typeof SLMC_VERSION === "string" ? SLMC_VERSION : "dev";
