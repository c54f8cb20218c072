// main.tsx — mounts Braid Studio's page (App.tsx) into index.html's #root.
import "@xyflow/react/dist/style.css";
import "./style.css";

import { createRoot } from "react-dom/client";

import { App } from "./App";

const root = document.getElementById("root");
if (root) createRoot(root).render(<App />);
