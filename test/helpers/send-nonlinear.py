#!/usr/bin/env python3
"""Sends UDP frames whose headers lie past the socket buffer's linear part.

Usage: send-nonlinear.py IFACE DST_MAC 4|6 SRC DST DPORT COUNT [SIZE]

An AF_PACKET socket with PACKET_VNET_HDR builds a buffer of more than a page with only the
device's hard header (Ethernet, 14 bytes) in its linear part and the rest in page fragments
(net/packet/af_packet.c: packet_snd, packet_alloc_skb, linear = max(vnet hdr_len, 14)). A veth
hands that buffer to its peer as it is, so a TC program on the peer sees data_end 14 bytes past
data while skb->len counts the whole frame: the IP and UDP headers are not in the linear part.
Node has no packet sockets; Python's socket module does.
"""
import socket
import struct
import sys

SOL_PACKET = 263
PACKET_VNET_HDR = 15


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src_mac: bytes, dst_mac: bytes, family: int, src: str, dst: str, dport: int, size: int, seq: int) -> bytes:
    payload = bytes((seq + i) & 0xFF for i in range(size))
    udp_len = 8 + len(payload)
    if family == 4:
        s, d = socket.inet_pton(socket.AF_INET, src), socket.inet_pton(socket.AF_INET, dst)
        pseudo = s + d + struct.pack("!BBH", 0, 17, udp_len)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, seq & 0xFFFF, 0x4000, 64, 17, 0, s, d)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        ethertype = 0x0800
    else:
        s, d = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
        pseudo = s + d + struct.pack("!I3xB", udp_len, 17)
        ip = struct.pack("!IHBB16s16s", 0x60000000, udp_len, 17, 64, s, d)
        ethertype = 0x86DD
    udp = struct.pack("!HHHH", 40000 + (seq & 0xFF), dport, udp_len, 0)
    csum = checksum(pseudo + udp + payload) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", csum)
    return dst_mac + src_mac + struct.pack("!H", ethertype) + ip + udp + payload


def main() -> None:
    iface, dst_mac, family, src, dst, dport, count = sys.argv[1:8]
    size = int(sys.argv[8]) if len(sys.argv) > 8 else 4200
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    s.bind((iface, 0))
    src_mac = s.getsockname()[4]
    # struct virtio_net_hdr, all zero: no checksum or segmentation asked, hdr_len 0 (so the
    # linear part is the Ethernet header alone).
    vnet = bytes(10)
    for i in range(int(count)):
        s.send(vnet + frame(src_mac, bytes.fromhex(dst_mac.replace(":", "")), int(family), src, dst, int(dport), size, i))
    print("sent", count)


if __name__ == "__main__":
    main()
