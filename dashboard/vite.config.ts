import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";
import { defineConfig } from "vitest/config";

// The console is served by the Go server on the API's own origin (embedded from dist/). In
// development, `npm run dev` proxies the API and the live feeds to a server on :8000.
const api = "http://127.0.0.1:8000";
const prefixes = ["/auth", "/agents", "/personas", "/catalog", "/tasks", "/chats", "/circles", "/projects", "/conversations",
  "/memory", "/knowledge", "/pipelines", "/schedules", "/workspace", "/users", "/audit", "/admin", "/events", "/health"];

export default defineConfig({
  plugins: [react(), tailwindcss()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 3000 },
  server: {
    proxy: Object.fromEntries([...prefixes.map((p) => [p, api]), ["/ws", { target: api, ws: true }]]),
  },
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"], setupFiles: ["src/test-setup.ts"] },
});
