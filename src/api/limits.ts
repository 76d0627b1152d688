/** Request body limits: small for single objects, larger for a whole config. */
export const BODY_LIMIT = 1 << 20;
export const CONFIG_BODY_LIMIT = 16 << 20;
