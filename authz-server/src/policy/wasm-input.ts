/**
 * The evaluate hot path, without opa-wasm's per-call glue: the input's JSON is written straight
 * into the instance's memory (no TextEncoder and intermediate Uint8Array per call), the result is
 * found with a native byte search and decoded by Buffer (opa-wasm scans for the terminating NUL in
 * a JavaScript loop and allocates a TextDecoder per call). It calls the same ABI 1.2 export
 * (`opa_eval`) with the same arguments opa-wasm's own fast path uses, so the decision is identical;
 * for older ABIs, or an instance without those fields, `directEvaluator` returns undefined and the
 * caller keeps opa-wasm's `evaluate`.
 *
 * The data address and heap pointer are read from the instance on every call: `setData` (a new
 * bundle's data, or data set after load) moves them.
 */
interface OpaInternals {
  minorVersion: number;
  /** The instance's WebAssembly.Memory. */
  mem: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  dataAddr: number;
  dataHeapPtr: number;
  wasmInstance: { exports: Record<string, unknown> };
}

type OpaEval = (
  reserved: number,
  entrypoint: number,
  dataAddr: number,
  inputAddr: number,
  inputLen: number,
  heapPtr: number,
  format: number,
) => number;

const PAGE_BYTES = 64 * 1024;

function internalsOf(opa: unknown): (OpaInternals & { opaEval: OpaEval }) | undefined {
  if (typeof opa !== "object" || opa === null) return undefined;
  const o = opa as Partial<OpaInternals>;
  const opaEval = o.wasmInstance?.exports?.opa_eval;
  if (
    typeof o.minorVersion !== "number" ||
    o.minorVersion < 2 ||
    // Not `instanceof`: the instance may come from another realm (a vm context, as under jest).
    typeof o.mem?.buffer?.byteLength !== "number" ||
    typeof o.mem.grow !== "function" ||
    typeof o.dataAddr !== "number" ||
    typeof o.dataHeapPtr !== "number" ||
    typeof opaEval !== "function"
  )
    return undefined;
  return Object.assign(o as OpaInternals, { opaEval: opaEval as OpaEval });
}

/** `opa` is opa-wasm's LoadedPolicy. The returned function throws where opa-wasm's would. */
export function directEvaluator(opa: unknown, entrypoint: number): ((input: unknown) => unknown) | undefined {
  const internals = internalsOf(opa);
  if (!internals) return undefined;
  const { mem, opaEval } = internals;
  let arrayBuffer = mem.buffer;
  let view = Buffer.from(arrayBuffer);
  const current = (): Buffer => {
    if (mem.buffer !== arrayBuffer) {
      arrayBuffer = mem.buffer;
      view = Buffer.from(arrayBuffer);
    }
    return view;
  };
  return (input: unknown): unknown => {
    const dataAddr = internals.dataAddr;
    const inputAddr = internals.dataHeapPtr;
    let inputLen = 0;
    // As opa-wasm: a falsy input is no input.
    if (input) {
      const text = JSON.stringify(input);
      inputLen = Buffer.byteLength(text, "utf8");
      const missing = inputAddr + inputLen - mem.buffer.byteLength;
      if (missing > 0) mem.grow(Math.ceil(missing / PAGE_BYTES));
      current().write(text, inputAddr, inputLen, "utf8");
    }
    const resultAddr = opaEval(0, entrypoint, dataAddr, inputAddr, inputLen, inputAddr + inputLen, 0);
    const memory = current();
    const end = memory.indexOf(0, resultAddr);
    if (end < 0) throw new Error("the policy's result is not terminated");
    return JSON.parse(memory.toString("utf8", resultAddr, end)) as unknown;
  };
}
