import {
  formatMicros,
  formatUsd,
  MoneyFormatError,
  picoToMicrosRounded,
  pricePerTokenPico,
  usdToMicros,
} from "./money.js";

describe("exact money", () => {
  test.each([
    ["0.15", 150_000n],
    ["0.01875", 18_750n],
    ["75", 75_000_000n],
    ["0.000001", 1n],
  ])("a price of %s per million tokens is %p pico-dollars per token", (perMillion, perToken) => {
    expect(pricePerTokenPico(perMillion)).toBe(perToken);
  });

  test("amounts with more than six decimals, signs, exponents or garbage are refused", () => {
    for (const bad of ["0.0000001", "-1", "1e-6", "", ".5", "1.", "1,5", " 1"])
      expect(() => usdToMicros(bad)).toThrow(MoneyFormatError);
  });

  test("costs print as exact decimals, never rounded", () => {
    expect(formatUsd(15_000_000n)).toBe("0.000015");
    expect(formatUsd(1n)).toBe("0.000000000001");
    expect(formatUsd(2_500_000_000_000n)).toBe("2.50");
    expect(formatUsd(0n)).toBe("0.00");
    expect(formatMicros(25_500_000n)).toBe("25.50");
  });

  test("the audit log's micro-dollars round half up", () => {
    expect(picoToMicrosRounded(1_499_999n)).toBe(1n);
    expect(picoToMicrosRounded(1_500_000n)).toBe(2n);
    expect(picoToMicrosRounded(0n)).toBe(0n);
  });
});
