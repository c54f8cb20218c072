// api.ts — the page's calls to `braid studio` (SPEC section 11): every
// /api/ call carries the token from the page's URL; saves send the file's
// etag so a change made elsewhere is never overwritten silently.

import type { Json, JsonObject } from "./model";

export interface Problem { file: string; node: string | null; field: string | null; message: string }

export interface FileEntry { content?: Json; source?: string; settings?: Json; etag: string }

export interface Service {
  apis: Record<string, FileEntry>;
  datasources: Record<string, FileEntry>;
  functions: Record<string, FileEntry>;
  workflows: Record<string, FileEntry>;
  layouts: Record<string, FileEntry>;
  tests: Record<string, FileEntry>;
}

export interface RunResponse {
  result?: Json;
  error?: JsonObject;
  trace?: JsonObject[];
  recorded?: JsonObject;
  errors?: Problem[];
}

export class Conflict extends Error {
  constructor(public readonly path: string) { super(`${path} changed since it was loaded`); }
}

export class ApiError extends Error {
  constructor(public readonly status: number, message: string) { super(message); }
}

function token(): string {
  return new URLSearchParams(window.location.search).get("token") ?? "";
}

async function call(method: string, path: string, body?: string, headers: Record<string, string> = {})
  : Promise<{ status: number; data: unknown }> {
  const res = await fetch(path, {
    method, body,
    headers: { Authorization: `Bearer ${token()}`, ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...headers },
  });
  const text = await res.text();
  let data: unknown = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (res.status === 409) throw new Conflict(path);
  if (res.status >= 400 && res.status !== 422) {
    const msg = (data as { error?: { message?: string } })?.error?.message ?? `HTTP ${res.status}`;
    throw new ApiError(res.status, msg);
  }
  return { status: res.status, data };
}

export async function loadService(): Promise<Service> {
  const { data } = await call("GET", "/api/service");
  const s = data as Partial<Service>;
  return { apis: s.apis ?? {}, datasources: s.datasources ?? {}, functions: s.functions ?? {},
    workflows: s.workflows ?? {}, layouts: s.layouts ?? {}, tests: s.tests ?? {} };
}

/** Saves one file; etag null for a new one.  Returns the new etag and the directory's problems. */
export async function saveFile(kind: string, name: string, text: string, etag: string | null)
  : Promise<{ etag: string; errors: Problem[] }> {
  const { data } = await call("PUT", `/api/files/${kind}/${name}`, text, etag ? { "If-Match": etag } : {});
  const d = data as { etag: string; errors?: Problem[] };
  return { etag: d.etag, errors: d.errors ?? [] };
}

export async function deleteFile(kind: string, name: string, etag: string): Promise<void> {
  await call("DELETE", `/api/files/${kind}/${name}`, undefined, { "If-Match": etag });
}

export async function check(): Promise<Problem[]> {
  const { data } = await call("POST", "/api/check", "{}");
  return (data as { errors?: Problem[] }).errors ?? [];
}

export async function run(workflow: string, input: Json): Promise<RunResponse> {
  const { data } = await call("POST", `/api/run/${workflow}`, JSON.stringify({ input }));
  return data as RunResponse;
}
