/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The dev server proxies GraphQL (HTTP and WebSocket) to a running `taskstream up`.
const backend = process.env.TASKSTREAM_URL ?? 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/graphql': { target: backend, ws: true, changeOrigin: true },
    },
  },
  build: {
    outDir: 'dist',
    // No source maps in the build: web/dist is served publicly (the dev server has its own).
    sourcemap: false,
    chunkSizeWarningLimit: 1000,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
    // jsdom component tests wait on rendering; on a loaded CI machine 5 s (the default) is short.
    testTimeout: 30_000,
  },
});
