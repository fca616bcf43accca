import { networksOf } from "../../../lib/src/http/outbound.js";
import { targetProblem } from "./target.js";

const none = networksOf([]);
const loopback = networksOf(["127.0.0.1/32"]);
const resolvesTo =
  (...addresses: string[]) =>
  async () =>
    addresses;

test("public https targets are accepted", async () => {
  expect(await targetProblem("https://hooks.example.com/x", none, resolvesTo("93.184.215.14"))).toBeNull();
  expect(await targetProblem("https://[2606:4700::1]/x", none)).toBeNull();
});

test.each([
  "http://127.0.0.1/x",
  "https://[::1]/x",
  "https://[::]/x",
  "https://0.0.0.0/x",
  "https://169.254.169.254/x",
  "https://[fe80::1]/x",
  "https://10.0.0.1/x",
  "https://172.16.0.1/x",
  "https://192.168.0.1/x",
  "https://100.64.0.1/x",
  "https://[fd12::1]/x",
  "https://224.0.0.1/x",
  "https://[ff02::1]/x",
  "https://[::ffff:10.0.0.1]/x",
  "https://[::ffff:a00:1]/x",
  "https://[::ffff:169.254.169.254]/x",
  "https://[::7f00:1]/x",
])("%s is refused", async (url) => {
  expect(await targetProblem(url, none)).toMatch(/non-public address/);
});

test("a name resolving to a private address among public ones is refused", async () => {
  expect(
    await targetProblem("https://rebind.example.com/x", none, resolvesTo("93.184.215.14", "10.0.0.5")),
  ).toMatch(/non-public address \(10\.0\.0\.5\)/);
});

test("an allowed network admits its addresses, in IPv4-mapped form too, and plain http only there", async () => {
  expect(await targetProblem("http://127.0.0.1:8080/x", loopback)).toBeNull();
  expect(await targetProblem("http://[::ffff:127.0.0.1]:8080/x", loopback)).toBeNull();
  expect(await targetProblem("http://127.0.0.2:8080/x", loopback)).toMatch(/non-public/);
  expect(await targetProblem("http://hooks.example.com/x", loopback, resolvesTo("93.184.215.14"))).toMatch(
    /https/,
  );
});

test("other schemes, credentials and unresolvable names are refused", async () => {
  expect(await targetProblem("ftp://example.com/x", none)).toMatch(/https/);
  expect(await targetProblem("https://u:p@example.com/x", none)).toMatch(/credentials/);
  expect(await targetProblem("not a url", none)).toMatch(/not a URL/);
  const fails = async () => {
    throw new Error("ENOTFOUND");
  };
  expect(await targetProblem("https://nowhere.invalid/x", none, fails)).toMatch(/does not resolve/);
});
