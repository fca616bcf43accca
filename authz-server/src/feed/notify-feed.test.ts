import type { ListenOptions, NotificationHandler } from "../../../lib/src/db/types.js";
import { FULL_SYNC, NotifyFeed, type NotificationOutcome } from "./notify-feed.js";

/** A promise settled by the test, to hold a read in flight. */
function gate(): { promise: Promise<void>; open: () => void; fail: (error: Error) => void } {
  let open!: () => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

async function until(condition: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A feed over a fake LISTEN: `listenResults` says, call by call, whether LISTEN fails; reads are
 * recorded as "full" and "inc:a,b", and held until the test opens `hold` when one is set.
 */
function harness(options: { listenFailures?: number; retryMs?: number; resyncMs?: number } = {}) {
  let failuresLeft = options.listenFailures ?? 0;
  const calls = { listen: 0, unlisten: 0 };
  const reads: string[] = [];
  const warnings: string[] = [];
  let active = 0;
  let mostActive = 0;
  let notify: NotificationHandler = () => undefined;
  let reconnect: () => void = () => undefined;
  let hold: Promise<void> | undefined;
  let listenHold: Promise<void> | undefined;
  let failNext: Error | undefined;
  const outcomes = new Map<string, NotificationOutcome<string>>();
  const duringIncremental: { fullSyncWanted?: boolean } = {};

  const read = async (label: string) => {
    reads.push(label);
    active += 1;
    mostActive = Math.max(mostActive, active);
    try {
      if (hold) await hold;
      if (failNext) {
        const error = failNext;
        failNext = undefined;
        throw error;
      }
    } finally {
      active -= 1;
    }
  };

  class TestFeed extends NotifyFeed<string> {
    exposedCounters() {
      return this.counters();
    }
    protected onNotification(payload: string): NotificationOutcome<string> {
      return outcomes.get(payload) ?? [payload];
    }
    protected fullSync(): Promise<void> {
      return read("full");
    }
    protected async applyIncremental(items: string[]): Promise<void> {
      await read(`inc:${items.join(",")}`);
      if (duringIncremental.fullSyncWanted) {
        duringIncremental.fullSyncWanted = false;
        this.requestFullSync();
      }
    }
  }

  const feed = new TestFeed({
    db: {
      async listen(_channel: string, handler: NotificationHandler, listenOptions?: ListenOptions) {
        calls.listen += 1;
        if (listenHold) await listenHold;
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error("connection refused");
        }
        notify = handler;
        reconnect = listenOptions?.onReconnect ?? (() => undefined);
        return async () => {
          calls.unlisten += 1;
        };
      },
    },
    channel: "warden_test",
    subject: "test",
    logger: { warn: (_fields: unknown, message: string) => void warnings.push(message) },
    resyncMs: options.resyncMs ?? 60_000,
    retryMs: options.retryMs ?? 20,
  });

  return {
    feed,
    calls,
    reads,
    warnings,
    outcomes,
    duringIncremental,
    get mostActive() {
      return mostActive;
    },
    notify: (payload: string) => notify(payload),
    reconnect: () => reconnect(),
    holdReads: () => {
      const g = gate();
      hold = g.promise;
      return () => {
        hold = undefined;
        g.open();
      };
    },
    holdListen: () => {
      const g = gate();
      listenHold = g.promise;
      return g.open;
    },
    failNextRead: (error: Error) => {
      failNext = error;
    },
  };
}

let running: NotifyFeed<string>[] = [];
function track<T extends { feed: NotifyFeed<string> }>(h: T): T {
  running.push(h.feed);
  return h;
}
afterEach(async () => {
  await Promise.all(running.map((feed) => feed.stop()));
  running = [];
});

test("start listens first, then does one full sync, and resolves loaded", async () => {
  const h = track(harness());
  expect(h.feed.loaded).toBe(false);
  await h.feed.start();
  expect(h.calls.listen).toBe(1);
  expect(h.reads).toEqual(["full"]);
  expect(h.feed.loaded).toBe(true);
  expect(h.feed.exposedCounters()).toMatchObject({
    loaded: true,
    listening: true,
    fullSyncs: 1,
    lastError: null,
  });
});

test("notifications during a read are applied afterwards, in order, coalesced, one read at a time", async () => {
  const h = track(harness());
  await h.feed.start();
  const release = h.holdReads();
  h.notify("a"); // read at once
  h.notify("b");
  h.notify("c");
  h.notify("b"); // already queued: read once
  h.notify("a"); // changed again since its read began: read again
  release();
  await until(() => h.reads.length >= 3);
  await settle();
  expect(h.reads).toEqual(["full", "inc:a", "inc:b,c,a"]);
  expect(h.mostActive).toBe(1);
  expect(h.feed.exposedCounters().notifications).toBe(5);
  expect(h.feed.exposedCounters().lastIncrementalAt).not.toBeNull();
});

test("a full sync asked for while work is queued replaces that work and what is queued before it starts", async () => {
  const h = track(harness());
  await h.feed.start();
  const release = h.holdReads();
  h.notify("a"); // starts reading "a"
  h.notify("b");
  h.outcomes.set("garbled", FULL_SYNC);
  h.notify("garbled");
  h.notify("c"); // before the full sync starts: it reads "c" too
  release();
  await until(() => h.reads.length >= 3);
  const release2 = h.holdReads();
  await settle();
  h.notify("d"); // during the full sync: read after it
  release2();
  await until(() => h.reads.length >= 4);
  await settle();
  expect(h.reads).toEqual(["full", "inc:a", "full", "inc:d"]);
});

test("a notification handled on the spot (no items) reads nothing", async () => {
  const h = track(harness());
  await h.feed.start();
  h.outcomes.set("ids", []);
  h.notify("ids");
  await settle();
  expect(h.reads).toEqual(["full"]);
  expect(h.feed.exposedCounters().notifications).toBe(1);
});

test("incremental work may ask for a full sync, which follows it", async () => {
  const h = track(harness());
  await h.feed.start();
  h.duringIncremental.fullSyncWanted = true;
  h.notify("bulk");
  await until(() => h.reads.length >= 3);
  await settle();
  expect(h.reads).toEqual(["full", "inc:bulk", "full"]);
});

test("a reconnect of the listening connection brings a full resync", async () => {
  const h = track(harness());
  await h.feed.start();
  h.reconnect();
  await until(() => h.reads.length >= 2);
  expect(h.reads).toEqual(["full", "full"]);
  expect(h.feed.exposedCounters().fullSyncs).toBe(2);
});

test("a full resync runs every resyncMs", async () => {
  const h = track(harness({ resyncMs: 30 }));
  await h.feed.start();
  await until(() => h.feed.exposedCounters().fullSyncs >= 3);
  expect(h.reads.every((read) => read === "full")).toBe(true);
});

test("a failed LISTEN is retried; nothing is read and nothing counts as loaded until it succeeds", async () => {
  const h = track(harness({ listenFailures: 2, retryMs: 20 }));
  await h.feed.start(); // resolves after the first failure: the retries run in the background
  expect(h.feed.loaded).toBe(false);
  expect(h.reads).toEqual([]);
  expect(h.warnings).toEqual(["test LISTEN failed"]);
  expect(h.feed.exposedCounters()).toMatchObject({ listening: false, lastError: "connection refused" });
  h.feed.requestFullSync(); // e.g. the periodic resync: no read without LISTEN
  await settle();
  expect(h.reads).toEqual([]);

  await until(() => h.feed.loaded);
  expect(h.calls.listen).toBe(3);
  expect(h.reads).toEqual(["full"]);
  expect(h.feed.exposedCounters()).toMatchObject({ listening: true, lastError: null });
});

test("a failed read backs off for retryMs, reads nothing meanwhile, then does a full sync", async () => {
  const h = track(harness({ retryMs: 100 }));
  await h.feed.start();
  h.failNextRead(new Error("server closed the connection"));
  h.notify("a");
  await until(() => h.warnings.length === 1);
  expect(h.warnings).toEqual(["test read failed; retrying with a full resync"]);
  expect(h.feed.exposedCounters().lastError).toBe("server closed the connection");
  h.notify("b"); // queued during the back-off: superseded by the full sync
  await settle();
  expect(h.reads).toEqual(["full", "inc:a"]);

  await until(() => h.reads.length >= 3);
  await settle();
  expect(h.reads).toEqual(["full", "inc:a", "full"]);
  expect(h.feed.exposedCounters()).toMatchObject({ loaded: true, lastError: null, fullSyncs: 2 });
});

test("stop during a read waits for it, then reads nothing more and unsubscribes", async () => {
  const h = harness();
  await h.feed.start();
  const release = h.holdReads();
  h.notify("a");
  h.notify("b");
  let stopped = false;
  const stopping = h.feed.stop().then(() => {
    stopped = true;
  });
  await settle();
  expect(stopped).toBe(false); // "a" is still being read
  release();
  await stopping;
  expect(h.reads).toEqual(["full", "inc:a"]);
  expect(h.calls.unlisten).toBe(1);
  h.notify("c");
  h.reconnect();
  h.feed.requestFullSync();
  await settle();
  expect(h.reads).toEqual(["full", "inc:a"]);
});

test("stop during a failing read leaves no retry behind", async () => {
  const h = harness({ retryMs: 20 });
  await h.feed.start();
  const release = h.holdReads();
  h.failNextRead(new Error("boom"));
  h.notify("a");
  const stopping = h.feed.stop();
  release();
  await stopping;
  await new Promise((resolve) => setTimeout(resolve, 60));
  expect(h.reads).toEqual(["full", "inc:a"]);
});

test("stop while LISTEN is still failing ends the retries", async () => {
  const h = harness({ listenFailures: 100, retryMs: 10 });
  await h.feed.start();
  await h.feed.stop();
  const listens = h.calls.listen;
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(h.calls.listen).toBe(listens);
  expect(h.reads).toEqual([]);
});

test("stop while LISTEN is still pending releases the subscription once it is made, and reads nothing", async () => {
  const h = harness();
  const release = h.holdListen();
  const starting = h.feed.start();
  const stopping = h.feed.stop();
  release();
  await Promise.all([starting, stopping]);
  expect(h.calls).toEqual({ listen: 1, unlisten: 1 });
  expect(h.reads).toEqual([]);
});
