/** Request body limits: small for single objects, larger for a whole config. */
export const BODY_LIMIT = 1 << 20;
/**
 * A batch: 100,000 prefixes to block or unblock (~1.7 MB of IPv4 text, ~4.5 MB of the longest
 * IPv6), or 10,000 decisions with reasons of up to 512 characters.
 */
export const BATCH_BODY_LIMIT = 8 << 20;
/**
 * A gateway's log batch (POST /v1/gateway/logs): up to 10,000 entries, and an entry of Kong's
 * http-log or APISIX's http-logger carries the request's and response's headers, the route and
 * the service: 1-3 KB each (APISIX sends 1,000 a batch by default, ~2 MB).
 */
export const LOG_BODY_LIMIT = 32 << 20;
/** A config with the files it names (blocklists of a million prefixes take ~20 MB). */
export const CONFIG_BODY_LIMIT = 64 << 20;
