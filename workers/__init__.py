"""Worker services: each a handlers module and a `build` that assembles its parts."""
