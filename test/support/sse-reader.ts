import { performance } from "node:perf_hooks";
import { SseDecoder, type SseEvent } from "../../extproc-server/src/sse/decoder.js";

/**
 * Reads an SSE response as an agent does, handing each complete event to `onEvent` with the moment
 * (performance.now()) the chunk that completed it arrived. Reading stops after the chunk in which
 * `onEvent` returned `true`, or at the end of the body.
 */
export async function readSseEvents(
  response: Response,
  onEvent: (event: SseEvent, receivedAt: number) => unknown,
): Promise<void> {
  if (!response.body) throw new Error(`no body to read events from (status ${response.status})`);
  const decoder = new SseDecoder();
  const reader = response.body.getReader();
  let stop = false;
  while (!stop) {
    const { done, value } = await reader.read();
    if (done) break;
    const receivedAt = performance.now();
    decoder.push(value, (event) => {
      if (onEvent(event, receivedAt) === true) stop = true;
    });
  }
}

/** The data of every event of an SSE response, read to its end. */
export async function sseData(response: Response): Promise<string[]> {
  const data: string[] = [];
  await readSseEvents(response, (event) => void data.push(event.data));
  return data;
}
