import { EriError } from '../../errors.js';
import { GraphBuilder } from '../graph-builder.js';
import type { Constant, WeightsModel } from '../tfjs/graph-model.js';

/**
 * face-api's expression net (`faceExpressionNet` of @vladmandic/face-api) as an ONNX graph. Its
 * architecture is code, not a graph (FaceFeatureExtractor + FaceProcessor in the package's `src/`), so
 * this writes that code out op for op over the weights the package ships:
 *
 *   input (0..255 RGB, already padded to a square and resized to 112) - mean RGB, / 255
 *   -> 4 dense blocks (each: a strided conv, then three separable convs, every one fed the ReLU of the
 *      sum of all before it) -> 7x7 average pool -> fully connected 256 -> 7 -> softmax
 *
 * TensorFlow's 'same' padding puts the odd pixel at the end, which is ONNX's SAME_UPPER.
 */

export const FACEAPI_EXPRESSION_SIZE = 112;
/** Its classes, in its output order (face-api's FaceExpressions). */
export const FACEAPI_EXPRESSIONS = [
  'neutral',
  'happy',
  'sad',
  'angry',
  'fearful',
  'disgusted',
  'surprised',
] as const;
/** Bumped when the graph written for the same weights changes (it keys the cache). */
export const FACEAPI_CONVERTER_VERSION = 1;

type FloatConstant = Extract<Constant, { dtype: 'float32' }>;

const MEAN_RGB = [122.782, 117.001, 104.298];

/** HWIO (TensorFlow) to OIHW (ONNX); a depthwise [h, w, c, 1] becomes [c, 1, h, w]. */
function toOihw(c: FloatConstant, depthwise: boolean): { shape: number[]; data: Float32Array } {
  const [h, w, i, o] = c.shape as [number, number, number, number];
  const [outC, inC] = depthwise ? [i * o, 1] : [o, i];
  const data = new Float32Array(c.data.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ci = 0; ci < i; ci++)
        for (let co = 0; co < o; co++) {
          const src = ((y * w + x) * i + ci) * o + co;
          const [oc, ic] = depthwise ? [ci * o + co, 0] : [co, ci];
          data[((oc * inC + ic) * h + y) * w + x] = c.data[src] as number;
        }
  return { shape: [outC, inC, h, w], data };
}

class ExpressionNetWriter {
  readonly #b = new GraphBuilder('faceapi-expression');
  readonly #model: WeightsModel;

  constructor(model: WeightsModel) {
    this.#model = model;
  }

  #weight(name: string, shape: readonly number[]): FloatConstant {
    const c = this.#model.constants.get(name);
    if (c?.dtype !== 'float32' || c.shape.join('x') !== shape.join('x')) {
      throw new EriError(
        'ERI_ERR_FEATURES',
        `${this.#model.name}: weight '${name}' is ${c ? `${c.dtype} ${c.shape.join('x')}` : 'missing'}, not float32 ${shape.join('x')}: not face-api's expression net`,
      );
    }
    return c;
  }

  #conv(x: string, prefix: string, cin: number, cout: number, stride: number): string {
    const filters = this.#b.float(
      `${prefix}/filters`,
      toOihw(this.#weight(`${prefix}/filters`, [3, 3, cin, cout]), false),
    );
    const bias = this.#b.float(`${prefix}/bias`, this.#weight(`${prefix}/bias`, [cout]));
    return this.#b.node('Conv', [x, filters, bias], {
      kernel_shape: [3, 3],
      strides: [stride, stride],
      auto_pad: 'SAME_UPPER',
    });
  }

  /** tf.separableConv2d (the stride on the depthwise part) plus the bias. */
  #separable(x: string, prefix: string, cin: number, cout: number, stride: number): string {
    const dw = toOihw(this.#weight(`${prefix}/depthwise_filter`, [3, 3, cin, 1]), true);
    const depthwise = this.#b.node('Conv', [x, this.#b.float(`${prefix}/depthwise`, dw)], {
      kernel_shape: [3, 3],
      strides: [stride, stride],
      group: cin,
      auto_pad: 'SAME_UPPER',
    });
    const pw = toOihw(this.#weight(`${prefix}/pointwise_filter`, [1, 1, cin, cout]), false);
    return this.#b.node('Conv', [
      depthwise,
      this.#b.float(`${prefix}/pointwise`, pw),
      this.#b.float(`${prefix}/bias`, this.#weight(`${prefix}/bias`, [cout])),
    ]);
  }

  #relu(x: string): string {
    return this.#b.node('Relu', [x]);
  }

  #add(...xs: string[]): string {
    // Summed right to left, as denseBlock4 nests its adds, so float rounding matches.
    return xs.reduceRight((acc, x) => this.#b.node('Add', [x, acc]));
  }

  #denseBlock(x: string, prefix: string, cin: number, cout: number, first: boolean): string {
    const out1 = this.#relu(
      first
        ? this.#conv(x, `${prefix}/conv0`, cin, cout, 2)
        : this.#separable(x, `${prefix}/conv0`, cin, cout, 2),
    );
    const out2 = this.#separable(out1, `${prefix}/conv1`, cout, cout, 1);
    const out3 = this.#separable(this.#relu(this.#add(out1, out2)), `${prefix}/conv2`, cout, cout, 1);
    const out4 = this.#separable(this.#relu(this.#add(out1, out2, out3)), `${prefix}/conv3`, cout, cout, 1);
    return this.#relu(this.#add(out1, out2, out3, out4));
  }

  write(): Uint8Array {
    const b = this.#b;
    const size = FACEAPI_EXPRESSION_SIZE;
    const input = b.input('input', 'float', ['batch', size, size, 3]);
    const mean = b.float('mean_rgb', { shape: [3], data: Float32Array.from(MEAN_RGB) });
    const normalized = b.node('Div', [b.node('Sub', [input, mean]), b.scalar('max', 255)]);
    let x = b.node('Transpose', [normalized], { perm: [0, 3, 1, 2] });
    const widths = [3, 32, 64, 128, 256];
    for (let i = 0; i < 4; i++) {
      x = this.#denseBlock(x, `dense${i}`, widths[i] as number, widths[i + 1] as number, i === 0);
    }
    const pooled = b.node('AveragePool', [x], { kernel_shape: [7, 7], strides: [2, 2] });
    const flat = b.node('Flatten', [pooled], { axis: 1 });
    const logits = b.node('Add', [
      b.node('MatMul', [flat, b.float('fc/weights', this.#weight('fc/weights', [256, 7]))]),
      b.float('fc/bias', this.#weight('fc/bias', [7])),
    ]);
    b.output(b.node('Softmax', [logits], { axis: 1 }), 'probs', 'float', ['batch', 7]);
    return b.encode();
  }
}

/** The ONNX graph of face-api's expression net from its weights manifest (readWeightsManifest). */
export function convertFaceApiExpressionNet(model: WeightsModel): Uint8Array {
  return new ExpressionNetWriter(model).write();
}
