// Cases for mocha (with mocha-junit-reporter): a pass, a strict-equal assertion, a thrown error.
const assert = require("node:assert");

describe("inventory", function () {
  it("counts items", function () {
    assert.strictEqual(2 + 2, 4);
  });

  it("reserves stock", function () {
    assert.strictEqual(3 - 1, 3);
  });

  it("ships an order", function () {
    throw new TypeError("cannot read the carrier of an order without an address");
  });

  it.skip("is pending", function () {});
});
