import { defineConfig } from "vite";

// The standalone page is served by the local gateway at /console/ (same origin as the API).
// Its CSP allows no inline script, so everything is emitted as external module files.
export default defineConfig({
  base: "/console/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
