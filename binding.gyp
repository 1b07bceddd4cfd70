{
  "targets": [{
    "target_name": "mra_native",
    "sources": ["<!@(node -e \"require('fs').readFileSync('native/sources.txt','utf8').split('\\n').filter(l=>/^[^#].*\\.cpp$/.test(l)).forEach(l=>console.log(l))\")"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/src", ".deps/libsrtp/include"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "MRA_SRTP_BUILD=\"openssl, static, Debian source package (node-gyp)\"", "MRA_HAVE_IO_URING"],
    "cflags_cc": ["-std=c++17", "-O2", "-fexceptions"],
    "cflags_cc!": ["-fno-exceptions"],
    "libraries": ["<(module_root_dir)/.deps/libsrtp/lib/libsrtp2.a", "-lssl", "-lcrypto", "-luring"]
  }]
}
