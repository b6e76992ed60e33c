{
  "targets": [
    {
      "target_name": "aigc_native",
      "sources": [
        "native/addon.cc",
        "native/pool.cc",
        "native/isa_avx512.cc",
        "native/isa_avx512bf16.cc",
        "native/isa_avx2.cc",
        "native/isa_scalar.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags": ["-O3", "-ffp-contract=fast", "-fno-math-errno", "-Wno-psabi", "-pthread"],
      "cflags_cc": ["-O3", "-std=gnu++17", "-ffp-contract=fast", "-fno-math-errno", "-Wno-psabi", "-Wno-maybe-uninitialized", "-pthread"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=gnu++17", "-ffp-contract=fast", "-fno-math-errno"]
      }
    }
  ]
}
