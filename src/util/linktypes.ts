/** Link-layer header types of capture files (tcpdump.org/linktypes.html) that Pathwise reads or writes. */
export const LINKTYPE_ETHERNET = 1;
/** Raw IP: DLT_RAW on BSDs, OpenBSD's, and LINKTYPE_RAW. */
export const LINKTYPE_RAW = [12, 14, 101] as const;
/** Linux "cooked" captures (tcpdump -i any), versions 1 and 2. */
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_LINUX_SLL2 = 276;
