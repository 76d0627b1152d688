{
  "targets": [
    {
      "target_name": "pathwise",
      "sources": [
        "src/addon.cc",
        "src/errors.cc",
        "src/fd.cc",
        "src/object.cc",
        "src/maps.cc",
        "src/mmap.cc",
        "src/attach.cc",
        "src/ringbuf.cc",
        "src/test-run.cc",
        "src/misc.cc",
        "src/pcap.cc",
        "src/prog-load.cc",
        "src/netlink.cc",
        "src/ethtool.cc",
        "src/btf-layout.cc",
        "src/prober.cc",
        "src/scan.cc",
        "src/maglev.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lbpf", "-lelf", "-lz", "-lpcap", "-lmnl"]
    }
  ]
}
