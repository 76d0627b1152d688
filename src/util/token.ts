/**
 * What an API token may hold: printable ASCII without spaces. A token travels in an
 * `Authorization: Bearer TOKEN` header, whose value is one word of bytes the HTTP parsers
 * take as Latin-1: a space splits it, a non-ASCII character cannot be sent as written.
 */
export const TOKEN_CHARS = /^[\x21-\x7e]+$/;
