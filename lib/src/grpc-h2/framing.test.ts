import { frameMessage, MessageDeframer } from "./framing.js";
import { Status } from "./status.js";

const framed = (...messages: string[]) => Buffer.concat(messages.map((m) => frameMessage(Buffer.from(m))));
const texts = (result: Buffer[] | unknown) => (result as Buffer[]).map((b) => b.toString());

describe("gRPC message framing", () => {
  it("reads a message split across chunks at every offset", () => {
    const wire = framed("hello, envoy");
    for (let cut = 0; cut <= wire.length; cut++) {
      const deframer = new MessageDeframer(1024);
      const first = texts(deframer.push(wire.subarray(0, cut)));
      const second = texts(deframer.push(wire.subarray(cut)));
      expect([...first, ...second]).toEqual(["hello, envoy"]);
      expect(deframer.buffered).toBe(0);
    }
  });

  it("reads several messages from one chunk, and one byte at a time", () => {
    const wire = framed("a", "", "bc", "def");
    expect(texts(new MessageDeframer(1024).push(wire))).toEqual(["a", "", "bc", "def"]);
    const deframer = new MessageDeframer(1024);
    const got: string[] = [];
    for (const byte of wire) got.push(...texts(deframer.push(Buffer.from([byte]))));
    expect(got).toEqual(["a", "", "bc", "def"]);
  });

  it("keeps an incomplete message buffered until the rest arrives", () => {
    const deframer = new MessageDeframer(1024);
    expect(deframer.push(framed("abcdef").subarray(0, 8))).toEqual([]);
    expect(deframer.buffered).toBe(3);
  });

  it("refuses a compressed message with UNIMPLEMENTED", () => {
    const wire = framed("zip");
    wire[0] = 1;
    expect(new MessageDeframer(1024).push(wire)).toMatchObject({ code: Status.UNIMPLEMENTED });
  });

  it("refuses a message over the size limit before it is buffered, and stays failed", () => {
    const deframer = new MessageDeframer(4);
    const prefix = Buffer.from([0, 0, 0x10, 0, 0]); // announces 1 MiB
    expect(deframer.push(prefix)).toMatchObject({ code: Status.RESOURCE_EXHAUSTED });
    expect(deframer.buffered).toBe(0);
    expect(deframer.push(framed("ok"))).toMatchObject({ code: Status.RESOURCE_EXHAUSTED });
  });

  it("refuses an unknown flag byte", () => {
    const wire = framed("x");
    wire[0] = 7;
    expect(new MessageDeframer(1024).push(wire)).toMatchObject({ code: Status.INTERNAL });
  });
});
