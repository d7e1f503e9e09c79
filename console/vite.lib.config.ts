import { defineConfig } from "vite";

// The web component as one ES module (Lit and @clavis/sdk bundled in) for platforms to embed:
// dist/lib/clavis-credentials.js, also served by the local gateway at /console/lib/….
export default defineConfig({
  build: {
    outDir: "dist/lib",
    emptyOutDir: false,
    target: "es2022",
    sourcemap: false,
    lib: {
      entry: "src/index.ts",
      formats: ["es"],
      fileName: () => "clavis-credentials.js",
    },
  },
});
