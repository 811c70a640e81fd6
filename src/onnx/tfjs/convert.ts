import { EriError } from '../../errors.js';
import { GraphBuilder } from '../graph-builder.js';
import { attrs, type Constant, type GraphModel, type GraphNode } from './graph-model.js';

/**
 * TensorFlow.js graph model -> ONNX (opset 17), for the convolutional networks that ship inside npm
 * packages (the face detector, mesh, iris and expression networks of @vladmandic/human).
 *
 * The ONNX graph keeps the TensorFlow interface: its input and outputs are NHWC, exactly what tfjs takes
 * and returns, so both can be fed the same tensors and compared. Inside, activations are NCHW (what
 * onnxruntime's convolutions want): the input is transposed once, filters are re-laid out at conversion
 * (HWIO -> OIHW; depthwise [H,W,C,M] -> [C*M,1,H,W] with group C), per-channel constants become [C,1,1],
 * and a value goes back to NHWC only where its memory order matters (Reshape, Softmax, reductions,
 * outputs). The batch dimension is symbolic, whatever the placeholder says, and every Reshape keeps the
 * batch (its first target dimension becomes 0, "copy"): the networks here all carry the batch first.
 */

/** Bumped whenever the converter's output changes: it is part of the cache key of converted graphs. */
export const CONVERTER_VERSION = 3;

export interface ConvertOptions {
  /**
   * Nodes whose values become graph outputs, in this order (the ONNX output is named after the node).
   * Default: the graph's Identity nodes that nothing consumes, in graph order.
   */
  outputs?: readonly string[];
}

type Layout = 'nchw' | 'plain';
interface Value {
  name: string;
  layout: Layout;
  /** Channels of an NCHW activation, where the ops that made it say (convolutions do). */
  channels?: number;
}

/** Where NHWC axis i sits in NCHW, and which NHWC axis each NCHW position holds. */
const NHWC_TO_NCHW_AXIS = [0, 2, 3, 1];
const NCHW_FROM_NHWC = [0, 3, 1, 2];

/** The op set these converters know; anything else is an error naming the op. */
export const SUPPORTED_OPS = [
  'Placeholder',
  'Const',
  'Identity',
  '_FusedConv2D',
  'Conv2D',
  'DepthwiseConv2dNative',
  'AddV2',
  'Add',
  'Mul',
  'Sub',
  'Prelu',
  'Relu',
  'Relu6',
  'Sigmoid',
  'Tanh',
  'MaxPool',
  'AvgPool',
  'Pad',
  'Reshape',
  'Mean',
  'Softmax',
  'ConcatV2',
] as const;

/** TF input reference `name:1` or `^control` -> the producing node's name (or undefined for control). */
function producer(input: string): string | undefined {
  if (input.startsWith('^')) return undefined;
  const colon = input.lastIndexOf(':');
  if (colon > 0 && /^\d+$/.test(input.slice(colon + 1))) {
    if (input.slice(colon + 1) !== '0') {
      throw new EriError('ERI_ERR_FEATURES', `multi-output node reference '${input}' is not supported`);
    }
    return input.slice(0, colon);
  }
  return input;
}

/** HWIO -> OIHW. */
function filterToOihw(c: Constant): { shape: number[]; data: Float32Array } {
  const [h, w, i, o] = c.shape as [number, number, number, number];
  const src = c.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ci = 0; ci < i; ci++)
        for (let co = 0; co < o; co++)
          out[((co * i + ci) * h + y) * w + x] = src[((y * w + x) * i + ci) * o + co] as number;
  return { shape: [o, i, h, w], data: out };
}

/** Depthwise [H, W, C, M] -> [C*M, 1, H, W] (output channel c*M + m reads input channel c, as in TF). */
function depthwiseToOihw(c: Constant): { shape: number[]; data: Float32Array } {
  const [h, w, ch, m] = c.shape as [number, number, number, number];
  const src = c.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ci = 0; ci < ch; ci++)
        for (let k = 0; k < m; k++)
          out[((ci * m + k) * h + y) * w + x] = src[((y * w + x) * ch + ci) * m + k] as number;
  return { shape: [ch * m, 1, h, w], data: out };
}

class Converter {
  readonly #model: GraphModel;
  readonly #b: GraphBuilder;
  readonly #nodes = new Map<string, GraphNode>();
  readonly #values = new Map<string, Value>();

  constructor(model: GraphModel) {
    this.#model = model;
    this.#b = new GraphBuilder(model.name);
    for (const n of model.nodes) this.#nodes.set(n.name, n);
  }

  #fail(node: GraphNode, message: string): never {
    throw new EriError(
      'ERI_ERR_FEATURES',
      `${this.#model.name}: node '${node.name}' (${node.op}): ${message}`,
    );
  }

  #constant(node: GraphNode, name: string): Constant {
    const c = this.#model.constants.get(name);
    if (!c) this.#fail(node, `input '${name}' is not a constant of the weights manifest`);
    return c;
  }

  #isConstant(name: string): boolean {
    return this.#nodes.get(name)?.op === 'Const';
  }

  #inputs(node: GraphNode): string[] {
    return (node.input ?? []).map(producer).filter((x): x is string => x !== undefined);
  }

  /** A data input (not a constant), converted on demand. */
  #value(name: string): Value {
    const done = this.#values.get(name);
    if (done) return done;
    const node = this.#nodes.get(name);
    if (!node) throw new EriError('ERI_ERR_FEATURES', `${this.#model.name}: no node '${name}'`);
    const value = this.#convert(node);
    this.#values.set(name, value);
    return value;
  }

  #nchw(v: Value, rank4: boolean): Value {
    if (v.layout === 'nchw' || !rank4) return v;
    return { name: this.#b.node('Transpose', [v.name], { perm: [0, 3, 1, 2] }), layout: 'nchw' };
  }

  #nhwc(v: Value): Value {
    if (v.layout !== 'nchw') return v;
    return { name: this.#b.node('Transpose', [v.name], { perm: [0, 2, 3, 1] }), layout: 'plain' };
  }

  #float(hint: string, t: { shape: readonly number[]; data: Float32Array }): string {
    return this.#b.float(hint, t);
  }

  /** A constant operand of an elementwise op: per-channel constants broadcast over NCHW as [C,1,1]. */
  #operand(node: GraphNode, name: string, against: Layout): string {
    const c = this.#constant(node, name);
    if (c.dtype !== 'float32') this.#fail(node, `integer operand '${name}'`);
    const channels = c.shape.length > 0 && c.shape.slice(0, -1).every((d) => d === 1);
    if (against === 'nchw' && channels && c.shape.length >= 1 && (c.shape.at(-1) as number) > 1) {
      return this.#float(name, { shape: [c.shape.at(-1) as number, 1, 1], data: c.data });
    }
    if (against === 'nchw' && c.shape.length > 1 && !channels) {
      this.#fail(node, `constant '${name}' of shape [${c.shape}] does not broadcast per channel`);
    }
    return this.#float(name, { shape: c.shape.length > 1 ? [1] : c.shape, data: c.data });
  }

  #convPads(node: GraphNode): Record<string, number[] | string> {
    const padding = attrs.string(node, 'padding');
    if (padding === 'SAME') return { auto_pad: 'SAME_UPPER' };
    if (padding === 'VALID') return { auto_pad: 'VALID' };
    if (padding === 'EXPLICIT') {
      const p = attrs.ints(node, 'explicit_paddings');
      // NHWC pairs (before, after) -> ONNX [h0, w0, h1, w1].
      return { pads: [p[2] ?? 0, p[4] ?? 0, p[3] ?? 0, p[5] ?? 0] };
    }
    this.#fail(node, `padding '${padding}'`);
  }

  #spatial(node: GraphNode, key: string): number[] {
    const v = attrs.ints(node, key);
    if (v.length === 0) return [1, 1];
    if (attrs.string(node, 'data_format') && attrs.string(node, 'data_format') !== 'NHWC') {
      this.#fail(node, `data_format ${attrs.string(node, 'data_format')}`);
    }
    return [v[1] ?? 1, v[2] ?? 1];
  }

  /**
   * PReLU on NCHW activations as relu(x) + (-alpha) * relu(-x), the two scalings as 1x1 depthwise
   * convolutions: bit for bit PReLU, but made of ops onnxruntime runs in its blocked (NCHWc) layout, so
   * the convolutions around it need no layout conversions. onnxruntime's own PRelu forces two per
   * activation, ~40 % of the mesh and iris nets' time.
   */
  #prelu(node: GraphNode, x: string, alphaName: string): string {
    const alpha = this.#constant(node, alphaName);
    if (alpha.dtype !== 'float32') this.#fail(node, 'integer PReLU alpha');
    const channels = alpha.data.length;
    const depthwise = (hint: string, values: Float32Array) =>
      this.#float(`${node.name}/${hint}`, { shape: [channels, 1, 1, 1], data: values });
    const negated = this.#b.node('Relu', [
      this.#b.node('Conv', [x, depthwise('neg', new Float32Array(channels).fill(-1))], {
        group: channels,
        kernel_shape: [1, 1],
      }),
    ]);
    const scaled = this.#b.node(
      'Conv',
      [
        negated,
        depthwise(
          'alpha',
          Float32Array.from(alpha.data, (a) => -a),
        ),
      ],
      {
        group: channels,
        kernel_shape: [1, 1],
      },
    );
    return this.#b.node('Add', [this.#b.node('Relu', [x]), scaled]);
  }

  /**
   * Zero channels added around an NCHW activation (the shortcut of a block that widens) as a 1x1
   * convolution with identity weights: for finite activations exactly the padding (each output is 1 * x
   * plus products with 0), and, unlike Pad, an op onnxruntime keeps in its blocked layout. A Pad there breaks the chain: the
   * residual Add after it, and every Add downstream that takes its result, ran in plain NCHW with a
   * layout conversion on each side (~15-30 % of the mesh and iris nets' time).
   */
  #padChannels(node: GraphNode, x: Value & { channels: number }, [before, after]: number[]): Value {
    const inChannels = x.channels;
    const outChannels = inChannels + (before as number) + (after as number);
    const weights = new Float32Array(outChannels * inChannels);
    for (let c = 0; c < inChannels; c++) weights[((before as number) + c) * inChannels + c] = 1;
    const w = this.#float(`${node.name}/identity`, { shape: [outChannels, inChannels, 1, 1], data: weights });
    return {
      name: this.#b.node('Conv', [x.name, w], { kernel_shape: [1, 1] }),
      layout: 'nchw',
      channels: outChannels,
    };
  }

  #activation(node: GraphNode, x: string, op: string, alpha?: string): string {
    switch (op) {
      case 'Relu':
        return this.#b.node('Relu', [x]);
      case 'Relu6':
        return this.#b.node('Clip', [x, this.#b.scalar('zero', 0), this.#b.scalar('six', 6)]);
      case 'Prelu':
        if (!alpha) this.#fail(node, 'Prelu without its alpha');
        return this.#prelu(node, x, alpha);
      default:
        this.#fail(node, `fused op '${op}'`);
    }
  }

  #convert(node: GraphNode): Value {
    const inputs = this.#inputs(node);
    const first = () => this.#value(inputs[0] as string);
    switch (node.op) {
      case 'Placeholder': {
        const shape = attrs.shape(node) ?? [];
        const dims = shape.map((d, i) => (i === 0 ? 'batch' : d > 0 ? d : `d${i}`));
        const name = this.#b.input(node.name, 'float', dims);
        return this.#nchw({ name, layout: 'plain' }, shape.length === 4);
      }
      case 'Identity':
        return first();
      case 'Conv2D':
      case '_FusedConv2D': {
        const x = this.#nchw(first(), true);
        const filter = filterToOihw(this.#constant(node, inputs[1] as string));
        const fused = node.op === '_FusedConv2D' ? attrs.strings(node, 'fused_ops') : [];
        const convInputs = [x.name, this.#float(`${node.name}/w`, filter)];
        if (fused[0] === 'BiasAdd') {
          const bias = this.#constant(node, inputs[2] as string);
          convInputs.push(
            this.#float(`${node.name}/b`, {
              shape: [bias.shape.at(-1) ?? 0],
              data: bias.data as Float32Array,
            }),
          );
        } else if (fused.length > 0) this.#fail(node, `fused ops [${fused}]`);
        const [dh, dw] = this.#spatial(node, 'dilations');
        let y = this.#b.node('Conv', convInputs, {
          strides: this.#spatial(node, 'strides'),
          dilations: [dh as number, dw as number],
          kernel_shape: [filter.shape[2] as number, filter.shape[3] as number],
          ...this.#convPads(node),
        });
        for (const op of fused.slice(1)) y = this.#activation(node, y, op, inputs[3]);
        return { name: y, layout: 'nchw', channels: filter.shape[0] as number };
      }
      case 'DepthwiseConv2dNative': {
        const x = this.#nchw(first(), true);
        const filter = depthwiseToOihw(this.#constant(node, inputs[1] as string));
        const channels = (this.#constant(node, inputs[1] as string).shape[2] ?? 1) as number;
        const y = this.#b.node('Conv', [x.name, this.#float(`${node.name}/w`, filter)], {
          group: channels,
          strides: this.#spatial(node, 'strides'),
          dilations: this.#spatial(node, 'dilations'),
          kernel_shape: [filter.shape[2] as number, filter.shape[3] as number],
          ...this.#convPads(node),
        });
        return { name: y, layout: 'nchw', channels: filter.shape[0] as number };
      }
      case 'AddV2':
      case 'Add':
      case 'Mul':
      case 'Sub': {
        const op = node.op === 'AddV2' ? 'Add' : node.op;
        const [a, b] = inputs as [string, string];
        if (this.#isConstant(a) && this.#isConstant(b)) this.#fail(node, 'two constant operands');
        if (this.#isConstant(b) || this.#isConstant(a)) {
          const data = this.#value(this.#isConstant(a) ? b : a);
          const k = this.#operand(node, this.#isConstant(a) ? a : b, data.layout);
          const operands = this.#isConstant(a) ? [k, data.name] : [data.name, k];
          return { ...data, name: this.#b.node(op, operands) };
        }
        let va = this.#value(a);
        let vb = this.#value(b);
        if (va.layout !== vb.layout) {
          va = this.#nhwc(va);
          vb = this.#nhwc(vb);
        }
        const channels = va.channels ?? vb.channels;
        return {
          name: this.#b.node(op, [va.name, vb.name]),
          layout: va.layout,
          ...(va.layout === 'nchw' && channels ? { channels } : {}),
        };
      }
      case 'Prelu': {
        const x = first();
        if (x.layout !== 'nchw') {
          return {
            name: this.#b.node('PRelu', [x.name, this.#operand(node, inputs[1] as string, 'plain')]),
            layout: x.layout,
          };
        }
        return { ...x, name: this.#prelu(node, x.name, inputs[1] as string) };
      }
      case 'Relu':
      case 'Relu6':
      case 'Sigmoid':
      case 'Tanh': {
        const x = first();
        const y =
          node.op === 'Relu' || node.op === 'Relu6'
            ? this.#activation(node, x.name, node.op)
            : this.#b.node(node.op, [x.name]);
        return { ...x, name: y };
      }
      case 'MaxPool':
      case 'AvgPool': {
        const x = this.#nchw(first(), true);
        const y = this.#b.node(node.op === 'MaxPool' ? 'MaxPool' : 'AveragePool', [x.name], {
          kernel_shape: this.#spatial(node, 'ksize'),
          strides: this.#spatial(node, 'strides'),
          ...this.#convPads(node),
          // TF averages over the valid window only.
          ...(node.op === 'AvgPool' ? { count_include_pad: 0 } : {}),
        });
        return { ...x, name: y };
      }
      case 'Pad': {
        const x = first();
        const p = this.#constant(node, inputs[1] as string);
        if (p.dtype !== 'int32') this.#fail(node, 'paddings must be int32');
        const pairs = Array.from({ length: p.data.length / 2 }, (_, i) => [
          p.data[2 * i] as number,
          p.data[2 * i + 1] as number,
        ]);
        const ordered = x.layout === 'nchw' ? NCHW_FROM_NHWC.map((a) => pairs[a] as number[]) : pairs;
        const pads = [...ordered.map((q) => q[0] as number), ...ordered.map((q) => q[1] as number)];
        const channelsOnly = ordered.every((q, axis) => axis === 1 || (q[0] === 0 && q[1] === 0));
        if (x.layout === 'nchw' && x.channels && channelsOnly) {
          return this.#padChannels(node, x as Value & { channels: number }, ordered[1] as number[]);
        }
        return {
          name: this.#b.node('Pad', [x.name, this.#b.int64(`${node.name}/pads`, pads)], { mode: 'constant' }),
          layout: x.layout,
        };
      }
      case 'Reshape': {
        const x = this.#nhwc(first());
        const shape = this.#constant(node, inputs[1] as string);
        const target = Array.from(shape.data, Number);
        target[0] = 0;
        return {
          name: this.#b.node('Reshape', [x.name, this.#b.int64(`${node.name}/shape`, target)]),
          layout: 'plain',
        };
      }
      case 'Mean': {
        const x = this.#nhwc(first());
        const axes = Array.from(this.#constant(node, inputs[1] as string).data, Number);
        const keep = attrs.bool(node, 'keep_dims') ?? node.attr?.keep_dims?.b ?? false;
        return {
          name: this.#b.node('ReduceMean', [x.name], { axes, keepdims: keep ? 1 : 0 }),
          layout: 'plain',
        };
      }
      case 'Softmax': {
        const x = this.#nhwc(first());
        return { name: this.#b.node('Softmax', [x.name], { axis: -1 }), layout: 'plain' };
      }
      case 'ConcatV2': {
        const axisName = inputs.at(-1) as string;
        let axis = Number(this.#constant(node, axisName).data[0]);
        let parts = inputs.slice(0, -1).map((n) => this.#value(n));
        if (parts.every((v) => v.layout === 'nchw')) {
          axis = NHWC_TO_NCHW_AXIS[axis < 0 ? axis + 4 : axis] as number;
        } else parts = parts.map((v) => this.#nhwc(v));
        return {
          name: this.#b.node(
            'Concat',
            parts.map((v) => v.name),
            { axis },
          ),
          layout: parts[0]?.layout ?? 'plain',
        };
      }
      case 'Const':
        return this.#fail(node, 'a constant used as a data input');
      default:
        throw new EriError(
          'ERI_ERR_FEATURES',
          `${this.#model.name}: unsupported op '${node.op}' (node '${node.name}'); the converter knows ${SUPPORTED_OPS.join(', ')}`,
        );
    }
  }

  /** The graph's own outputs: Identity nodes nothing consumes. */
  defaultOutputs(): string[] {
    const consumed = new Set(this.#model.nodes.flatMap((n) => this.#inputs(n)));
    return this.#model.nodes.filter((n) => n.op === 'Identity' && !consumed.has(n.name)).map((n) => n.name);
  }

  run(outputs: readonly string[]): Uint8Array {
    if (outputs.length === 0) throw new EriError('ERI_ERR_FEATURES', `${this.#model.name}: no outputs`);
    for (const name of outputs) {
      if (!this.#nodes.has(name))
        throw new EriError('ERI_ERR_FEATURES', `${this.#model.name}: no node '${name}' to output`);
      this.#b.outputUnshaped(this.#nhwc(this.#value(name)).name, name, 'float');
    }
    return this.#b.encode();
  }
}

/** Converts a graph model; outputs are named after their TF nodes. */
export function convertGraphModel(model: GraphModel, options: ConvertOptions = {}): Uint8Array {
  const converter = new Converter(model);
  return converter.run(options.outputs ?? converter.defaultOutputs());
}
