// eslint.config.mjs — the Studio's lint (npm run lint, part of make
// test-studio): ESLint's recommended rules, typescript-eslint's, and the
// React hooks rules (the dependency lists of effects and memos).
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "dist-test/", "node_modules/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["src/**/*.{ts,tsx}", "test/**/*.ts"],
    plugins: { "react-hooks": reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
    },
  },
  {
    files: ["test-browser/**/*.mjs", "build.mjs", "../bench/*.mjs"],
    languageOptions: {
      globals: { console: "readonly", process: "readonly", performance: "readonly", setTimeout: "readonly",
        clearTimeout: "readonly", URL: "readonly", document: "readonly", window: "readonly",
        requestAnimationFrame: "readonly", DataTransfer: "readonly", DragEvent: "readonly" },
    },
  },
);
