// What the engine asks of an inference backend other than its synthetic tokens (the stand-in binary's
// llama.cpp backend implements it; the demo simulator never uses one).
import type { ChatRequest } from "./chat.ts";
import type { ModelState } from "./models.ts";

export interface InferenceBackend {
  name: string;
  /** What /v1/models says owns the models, e.g. "stand-in + real llama.cpp (Debian)". */
  label?: string;
  /** Called once the model file has been read; the model is "loaded" only after this resolves. */
  load(model: ModelState): Promise<void>;
  chat(request: ChatRequest & LlamaRequestExtras, model: ModelState, signal: AbortSignal): Promise<Response>;
  close(): Promise<void>;
}

/** llama-server request fields the backend honours. */
export interface LlamaRequestExtras {
  ignore_eos?: boolean;
  temperature?: number;
}
