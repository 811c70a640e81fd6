import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecordReader } from '../../src/features/decode.js';
import { FrameBuffers } from '../../src/features/frame-buffers.js';
import { FeaturePool } from '../../src/features/pool.js';

describe('frame buffers reused', () => {
  it('hands a released buffer out again, keeps only whole buffers, and is bounded', () => {
    const buffers = new FrameBuffers(2);
    const a = buffers.acquire(12);
    a.fill(7);
    buffers.release(a);
    assert.equal(buffers.free, 1);
    const again = buffers.acquire(12);
    assert.equal(again, a);
    assert.equal(buffers.reused, 1);
    assert.equal(buffers.acquire(12) === a, false, 'a buffer is handed out once');
    buffers.release(new Uint8Array(24).subarray(0, 12));
    assert.equal(buffers.free, 0, 'a view of a larger buffer is not kept');
    for (let i = 0; i < 5; i++) buffers.release(new Uint8Array(12));
    assert.equal(buffers.free, 2, 'the free list is bounded');
    assert.notEqual(buffers.acquire(8).byteLength, 12, 'sizes are kept apart');
  });

  it('a record reader fills buffers from its allocator, one per record', () => {
    const buffers = new FrameBuffers();
    const kept = new Uint8Array(4);
    buffers.release(kept);
    const reader = new RecordReader(4, buffers);
    const records: Uint8Array[] = [];
    reader.push(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), (r) => records.push(r));
    assert.equal(records[0], kept);
    assert.deepEqual(
      records.map((r) => [...r]),
      [
        [1, 2, 3, 4],
        [5, 6, 7, 8],
      ],
    );
  });

  it("the feature pool's workers send each frame's buffer back, whole, after its analysis", async () => {
    const pool = new FeaturePool({ workers: 1 });
    try {
      const [w, h] = [64, 48];
      const frame = pool.frameBuffers.acquire(w * h * 3);
      for (let i = 0; i < frame.length; i++) frame[i] = (i * 31) % 251;
      const expected = Uint8Array.from(frame);
      const result = await pool.face(frame, w, h);
      assert.equal(frame.byteLength, 0, 'the frame was transferred to the worker, not copied');
      assert.equal('frame' in result, false, 'the buffer is not part of the result');
      assert.equal(pool.frameBuffers.free, 1);
      const back = pool.frameBuffers.acquire(w * h * 3);
      assert.deepEqual(back, expected, 'the same bytes came back');
      // A frame in a reused buffer is analysed like one in a fresh buffer.
      const again = await pool.face(back, w, h);
      const fresh = await pool.face(Uint8Array.from(expected), w, h);
      assert.deepEqual(again.faces, fresh.faces);
    } finally {
      await pool.close();
    }
  });
});
