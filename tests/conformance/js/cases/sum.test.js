// Cases for jest (with jest-junit): a pass, an expect() failure whose message comes first,
// a thrown error with a long stack, captured console output, and odd characters in a name.
function deep(n) {
  if (n === 0) {
    throw new Error("payment gateway refused the charge: code 402 (card declined)");
  }
  return deep(n - 1);
}

describe("billing", () => {
  test("adds two numbers", () => {
    expect(1 + 1).toBe(2);
  });

  test("rounds a total", () => {
    console.log("computing the total for order 17");
    expect(Math.round(2.5 * 3)).toBe(7);
  });

  test("charges a card through a deep call stack", () => {
    deep(40);
  });

  describe("naïve «quotes» & <brackets>", () => {
    test("handles ünïcode [1]", () => {
      expect("café".length).toBe(5);
    });
  });

  test.skip("is not ready", () => {});
});
