import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { randomWeights } from '../../src/model/init.js';
import { referenceArchitecture } from '../../src/model/package-tools.js';
import { encodeSafetensors, type Float32Tensor, SafetensorsFile } from '../../src/model/safetensors.js';
import { loadWeights } from '../../src/model/weights.js';
import { withTempDir } from '../helpers.js';

// Malformed weights must give a clear, coded error naming the tensor or the problem, never a crash.

describe('malformed weights', () => {
  let good: Map<string, Float32Tensor>;

  before(() => {
    good = randomWeights(referenceArchitecture(10, 6), 5);
  });

  async function loadBytes(bytes: Buffer): Promise<unknown> {
    return withTempDir(async (dir) => {
      const path = join(dir, 'w.safetensors');
      await writeFile(path, bytes);
      return loadWeights(path);
    });
  }

  function without(name: string): Map<string, Float32Tensor> {
    const m = new Map(good);
    m.delete(name);
    return m;
  }

  it('well-formed weights load and every size is inferred', async () => {
    const w = (await loadBytes(encodeSafetensors(good))) as Awaited<ReturnType<typeof loadWeights>>;
    assert.deepEqual(w.architecture, referenceArchitecture(10, 6));
  });

  it('a missing tensor is named', async () => {
    await assert.rejects(loadBytes(encodeSafetensors(without('transformer_aud.layers.2.1.fn.net.3.bias'))), {
      code: 'ERI_ERR_TENSOR_MISSING',
      message: /'transformer_aud\.layers\.2\.1\.fn\.net\.3\.bias'/,
    });
    await assert.rejects(loadBytes(encodeSafetensors(without('head.2.weight'))), {
      code: 'ERI_ERR_TENSOR_MISSING',
      message: /'head\.2\.weight'/,
    });
  });

  it('a wrong shape is named with both shapes', async () => {
    const m = new Map(good);
    m.set('transformer.layers.1.0.norm.bias', { shape: [255], data: new Float32Array(255) });
    await assert.rejects(loadBytes(encodeSafetensors(m)), {
      code: 'ERI_ERR_TENSOR_SHAPE',
      message: /'transformer\.layers\.1\.0\.norm\.bias'.*\[255\].*expected \[256\]/,
    });
  });

  it('an attention split that does not divide to_qkv is refused', async () => {
    const m = new Map(good);
    m.set('transformer.layers.0.0.fn.to_qkv.weight', {
      shape: [600, 256],
      data: new Float32Array(600 * 256),
    });
    await assert.rejects(loadBytes(encodeSafetensors(m)), {
      code: 'ERI_ERR_MODEL_MISMATCH',
      message: /to_qkv/,
    });
  });

  it('a wrong dtype is named', async () => {
    const bytes = encodeSafetensors(good);
    const file = SafetensorsFile.parse(bytes);
    const info = file.info('head.0.weight');
    assert.ok(info);
    // Rewrite the header so head.0.weight claims I32 (same byte size, so only the dtype is wrong).
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8'));
    header['head.0.weight'].dtype = 'I32';
    const text = Buffer.from(JSON.stringify(header));
    const out = Buffer.alloc(8 + text.length + (bytes.length - 8 - headerLen));
    out.writeBigUInt64LE(BigInt(text.length), 0);
    text.copy(out, 8);
    bytes.copy(out, 8 + text.length, 8 + headerLen);
    await assert.rejects(loadBytes(out), {
      code: 'ERI_ERR_TENSOR_DTYPE',
      message: /'head\.0\.weight'.*I32, expected F32/,
    });
  });

  it('a truncated file is reported as truncated, naming the first tensor cut off', async () => {
    const bytes = encodeSafetensors(good);
    await assert.rejects(loadBytes(bytes.subarray(0, bytes.length - 100)), {
      code: 'ERI_ERR_SAFETENSORS_FORMAT',
      message: /truncated/,
    });
    await assert.rejects(loadBytes(bytes.subarray(0, 5)), {
      code: 'ERI_ERR_SAFETENSORS_FORMAT',
      message: /shorter than/,
    });
    await assert.rejects(loadBytes(bytes.subarray(0, 40)), {
      code: 'ERI_ERR_SAFETENSORS_FORMAT',
      message: /header claims/,
    });
  });

  it('a file that is not safetensors is refused', async () => {
    await assert.rejects(loadBytes(Buffer.from('PK\u0003\u0004 this is a zip, not safetensors at all')), {
      code: 'ERI_ERR_SAFETENSORS_FORMAT',
    });
    const jsonHeaderNotObject = Buffer.alloc(8 + 2);
    jsonHeaderNotObject.writeBigUInt64LE(2n, 0);
    jsonHeaderNotObject.write('[]', 8);
    await assert.rejects(loadBytes(jsonHeaderNotObject), {
      code: 'ERI_ERR_SAFETENSORS_FORMAT',
      message: /not a JSON object/,
    });
    const notJson = Buffer.alloc(8 + 4);
    notJson.writeBigUInt64LE(4n, 0);
    notJson.write('{abc', 8);
    await assert.rejects(loadBytes(notJson), { code: 'ERI_ERR_SAFETENSORS_FORMAT', message: /not JSON/ });
  });

  it('non-finite weights are named', async () => {
    const m = new Map(good);
    const t = good.get('rnn.bias_hh_l1') as Float32Tensor;
    const data = new Float32Array(t.data);
    data[7] = Number.POSITIVE_INFINITY;
    m.set('rnn.bias_hh_l1', { shape: t.shape, data });
    await assert.rejects(loadBytes(encodeSafetensors(m)), {
      code: 'ERI_ERR_TENSOR_VALUES',
      message: /'rnn\.bias_hh_l1'/,
    });
  });

  it('a missing file is a read error, not a crash', async () => {
    await assert.rejects(loadWeights('/nonexistent/w.safetensors'), { code: 'ERI_ERR_FILE_READ' });
  });

  it('extra tensors (e.g. from a Lightning checkpoint) are reported as ignored, not fatal', async () => {
    const m = new Map(good);
    m.set('loss_fn.weight', { shape: [1], data: new Float32Array(1) });
    const w = (await loadBytes(encodeSafetensors(m))) as Awaited<ReturnType<typeof loadWeights>>;
    assert.deepEqual(w.ignored, ['loss_fn.weight']);
  });

  it('safetensors written by the project round-trip bit for bit', async () => {
    const bytes = encodeSafetensors(good, { note: 'x' });
    const file = SafetensorsFile.parse(bytes);
    assert.equal(file.metadata.note, 'x');
    for (const [name, t] of good) assert.deepEqual(file.float32(name).data, t.data, name);
    assert.equal((8 + Number(bytes.readBigUInt64LE(0))) % 8, 0, 'data section is 8-byte aligned');
  });
});
