import onnxProto from 'onnx-proto';

/** A float32 tensor: row-major data and its dimensions. */
export interface Float32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * A minimal ONNX graph builder: named values, initializers and nodes, serialised with the onnx-proto
 * message classes. The project builds its graphs itself (rather than exporting from PyTorch) so that the
 * server needs no Python and every graph is derived from the weights it is given.
 */

const { onnx } = onnxProto;

/** IR 8 / opset 17: LayerNormalization is a core op, and onnxruntime-node 1.30 runs both. */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;

export type ElemType = 'float' | 'int32' | 'int64' | 'bool' | 'uint8';
const ELEM: Record<ElemType, number> = {
  float: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
  uint8: onnx.TensorProto.DataType.UINT8,
};

/** A dimension: a fixed size or a symbolic name (batch, time). */
export type Dim = number | string;

type AttributeValue = number | number[] | string | { float: number } | { floats: number[] };

function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if (typeof value === 'number') return { name, type: T.INT, i: value };
  if ('floats' in value) return { name, type: T.FLOATS, floats: value.floats };
  return { name, type: T.FLOAT, f: value.float };
}

function valueInfo(name: string, elem: ElemType, dims: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[elem],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export class GraphBuilder {
  readonly #name: string;
  readonly #nodes: onnxProto.onnx.INodeProto[] = [];
  readonly #initializers: onnxProto.onnx.ITensorProto[] = [];
  readonly #inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly #outputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly #used = new Set<string>();
  #counter = 0;

  constructor(name: string) {
    this.#name = name;
  }

  #fresh(hint: string): string {
    let name = `${hint}_${this.#counter++}`;
    while (this.#used.has(name)) name = `${hint}_${this.#counter++}`;
    this.#used.add(name);
    return name;
  }

  input(name: string, elem: ElemType, dims: readonly Dim[]): string {
    this.#used.add(name);
    this.#inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  output(value: string, name: string, elem: ElemType, dims: readonly Dim[]): void {
    this.#nodes.push({ opType: 'Identity', input: [value], output: [name], name: this.#fresh('out') });
    this.#used.add(name);
    this.#outputs.push(valueInfo(name, elem, dims));
  }

  /** An output whose shape the graph does not state (onnxruntime infers it). */
  outputUnshaped(value: string, name: string, elem: ElemType): void {
    this.#nodes.push({ opType: 'Identity', input: [value], output: [name], name: this.#fresh('out') });
    this.#used.add(name);
    this.#outputs.push({ name, type: { tensorType: { elemType: ELEM[elem] } } });
  }

  /** A float32 constant (weights); `hint` keeps the reference name readable in the graph. */
  float(hint: string, tensor: Float32Tensor): string {
    const name = this.#fresh(hint);
    const data = tensor.data;
    this.#initializers.push({
      name,
      dims: [...tensor.shape],
      dataType: ELEM.float,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  int64(hint: string, values: readonly number[]): string {
    return this.#int64(hint, values, [values.length]);
  }

  int64Scalar(hint: string, value: number): string {
    return this.#int64(hint, [value], []);
  }

  #int64(hint: string, values: readonly number[], dims: number[]): string {
    const name = this.#fresh(hint);
    const raw = new BigInt64Array(values.map((v) => BigInt(v)));
    this.#initializers.push({
      name,
      dims,
      dataType: ELEM.int64,
      rawData: new Uint8Array(raw.buffer),
    });
    return name;
  }

  scalar(hint: string, value: number): string {
    return this.float(hint, { shape: [], data: new Float32Array([value]) });
  }

  /** Adds a node and returns its output names. */
  nodeN(
    opType: string,
    inputs: readonly string[],
    outputs: number,
    attrs: Record<string, AttributeValue> = {},
  ): string[] {
    const names = Array.from({ length: outputs }, () => this.#fresh(opType.toLowerCase()));
    this.#nodes.push({
      opType,
      input: [...inputs],
      output: names,
      name: this.#fresh(`n_${opType}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return names;
  }

  node(opType: string, inputs: readonly string[], attrs: Record<string, AttributeValue> = {}): string {
    return this.nodeN(opType, inputs, 1, attrs)[0] as string;
  }

  encode(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: ONNX_IR_VERSION,
      producerName: 'eri-stream',
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      graph: {
        name: this.#name,
        node: this.#nodes,
        initializer: this.#initializers,
        input: this.#inputs,
        output: this.#outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
