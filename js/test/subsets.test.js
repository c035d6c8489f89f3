import assert from "node:assert/strict";
import { test } from "node:test";
import { saveStep } from "../src/subsets.js";

test("saving a new name sends a save; an empty name asks for one", () => {
  assert.deepEqual(saveStep("  hard ", ["easy"], null), { request: { action: "save", name: "hard" }, message: "",
    pending: null });
  const empty = saveStep("   ", ["easy"], null);
  assert.equal(empty.request, null);
  assert.match(empty.message, /type a name/i);
});

test("a taken name asks first, then replaces on the second click; another name asks again", () => {
  const first = saveStep("easy", ["easy", "hard"], null);
  assert.equal(first.request, null);
  assert.equal(first.pending, "easy");
  assert.equal(first.message, 'A subset named "easy" exists: click Save again to replace it.');
  assert.doesNotMatch(first.message, /overwrite/);
  const second = saveStep("easy", ["easy", "hard"], first.pending);
  assert.deepEqual(second.request, { action: "save", name: "easy", overwrite: true });
  assert.equal(second.pending, null);
  // pending on "easy", but the name typed now is "hard": that one is asked about, not replaced
  const other = saveStep("hard", ["easy", "hard"], "easy");
  assert.equal(other.request, null);
  assert.equal(other.pending, "hard");
});
