/** Request body limits: small for single objects, larger for a whole config. */
export const BODY_LIMIT = 1 << 20;
/** A config with the files it names (blocklists of a million prefixes take ~20 MB). */
export const CONFIG_BODY_LIMIT = 64 << 20;
