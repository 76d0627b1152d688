/** Request body limits: small for single objects, larger for a whole config. */
export const BODY_LIMIT = 1 << 20;
/**
 * A batch: 100,000 prefixes to block or unblock (~1.7 MB of IPv4 text, ~4.5 MB of the longest
 * IPv6), or 10,000 decisions with reasons of up to 512 characters.
 */
export const BATCH_BODY_LIMIT = 8 << 20;
/** A config with the files it names (blocklists of a million prefixes take ~20 MB). */
export const CONFIG_BODY_LIMIT = 64 << 20;
