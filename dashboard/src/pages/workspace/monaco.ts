/// <reference types="vite/client" />
// Monaco, bundled by Vite with the page (never from a CDN: the console must work offline and
// under a strict origin). Only what the workspace needs: the editor with its usual features, the
// syntax of every language (each loaded on first use), and JSON's language service. The other
// language services (TypeScript's alone is several megabytes) are left out; their files still get
// syntax colouring from the language definitions.
import * as monaco from "monaco-editor/editor";
import "monaco-editor/features/register.all";
import "monaco-editor/languages/definitions/register.all";
import "monaco-editor/languages/features/json/register";
import EditorWorker from "monaco-editor/editor/editor.worker?worker";
import JsonWorker from "monaco-editor/language/json/json.worker?worker";

// Workers are built by Vite as separate files of the same origin.
self.MonacoEnvironment = {
  getWorker(_workerId: string, label: string) {
    if (label === "json") return new JsonWorker();
    return new EditorWorker();
  },
};

export { monaco };
