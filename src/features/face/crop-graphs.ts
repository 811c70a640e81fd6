import { GraphBuilder } from '../../onnx/graph-builder.js';
import type { CropGraphId, CropSizes } from './face-graphs.js';

/**
 * The image preparation of the face stage as small ONNX graphs: onnxruntime's Resize implements
 * TensorFlow's own sampling rules (`asymmetric` is tf.image.resizeBilinear without aligned corners or
 * half-pixel centres; `tf_crop_and_resize` is tf.image.cropAndResize, zero outside the image), so the
 * crops are those Human made on tfjs, and they run in the same runtime as the networks, on float frames.
 * Measured against sharp (libvips), they are also faster (BENCHMARKS.md).
 *
 * Every image is NHWC float: a frame [1, H, W, 3] with 0..255 values; a region of interest is the
 * 8-vector ONNX Resize takes, [0, y1, x1, 0, 1, y2, x2, 1] in 0..1 of the source.
 */

export const CROP_GRAPH_VERSION = 1;

/** Human's grayscale weights for the expression net. */
const GRAY = [0.2989, 0.587, 0.114];

function resize(b: GraphBuilder, x: string, sizes: number[], roi?: string): string {
  return b.node('Resize', [x, roi ?? '', '', b.int64('sizes', sizes)], {
    mode: 'linear',
    coordinate_transformation_mode: roi ? 'tf_crop_and_resize' : 'asymmetric',
    ...(roi ? { extrapolation_value: { float: 0 } } : {}),
  });
}

/** The detector's input: the whole frame resized to size x size, scaled to [-1, 1]. */
function detectorInput(size: number): Uint8Array {
  const b = new GraphBuilder('detector-input');
  const frame = b.input('frame', 'float', [1, 'height', 'width', 3]);
  const resized = resize(b, frame, [1, size, size, 3]);
  const y = b.node('Sub', [b.node('Div', [resized, b.scalar('half', 127.5)]), b.scalar('one', 1)]);
  b.output(y, 'input', 'float', [1, size, size, 3]);
  return b.encode();
}

/** A box of the frame, resized to size x size and scaled to [0, 1]: the mesh's input. */
function meshCrop(size: number): Uint8Array {
  const b = new GraphBuilder('mesh-crop');
  const frame = b.input('frame', 'float', [1, 'height', 'width', 3]);
  const roi = b.input('roi', 'float', [8]);
  const y = b.node('Div', [resize(b, frame, [1, size, size, 3], roi), b.scalar('max', 255)]);
  b.output(y, 'crop', 'float', [1, size, size, 3]);
  return b.encode();
}

/**
 * The expression net's input, made the way Human makes it: the face cropped at the mesh's input size,
 * then resized to 64x64, grey, scaled to [-1, 1].
 */
function expressionCrop(faceSize: number, netSize: number): Uint8Array {
  const b = new GraphBuilder('expression-crop');
  const frame = b.input('frame', 'float', [1, 'height', 'width', 3]);
  const roi = b.input('roi', 'float', [8]);
  const face = b.node('Div', [resize(b, frame, [1, faceSize, faceSize, 3], roi), b.scalar('max', 255)]);
  const small = resize(b, face, [1, netSize, netSize, 3]);
  const gray = b.node('MatMul', [small, b.float('gray', { shape: [3, 1], data: Float32Array.from(GRAY) })]);
  const y = b.node('Mul', [b.node('Sub', [gray, b.scalar('mid', 0.5)]), b.scalar('two', 2)]);
  b.output(y, 'input', 'float', [1, netSize, netSize, 1]);
  return b.encode();
}

/**
 * Both eyes out of the mesh's face crop for the iris net, each mirrored left-right, as Human does on
 * tfjs backends that have the FlipLeftRight kernel (wasm among them).
 */
function eyeCrops(faceSize: number, eyeSize: number): Uint8Array {
  const b = new GraphBuilder('eye-crops');
  const face = b.input('face', 'float', [1, faceSize, faceSize, 3]);
  const left = b.input('left', 'float', [8]);
  const right = b.input('right', 'float', [8]);
  const sizes = [1, eyeSize, eyeSize, 3];
  const both = b.node('Concat', [resize(b, face, sizes, left), resize(b, face, sizes, right)], { axis: 0 });
  const flipped = b.node('Slice', [
    both,
    b.int64('starts', [-1]),
    b.int64('ends', [-(eyeSize + 1)]),
    b.int64('axes', [2]),
    b.int64('steps', [-1]),
  ]);
  b.output(flipped, 'eyes', 'float', [2, eyeSize, eyeSize, 3]);
  return b.encode();
}

export function buildCropGraph(id: CropGraphId, sizes: CropSizes): Uint8Array {
  switch (id) {
    case 'detectorInput':
      return detectorInput(sizes.detector);
    case 'meshCrop':
      return meshCrop(sizes.mesh);
    case 'expressionCrop':
      return expressionCrop(sizes.mesh, sizes.expression);
    case 'eyeCrops':
      return eyeCrops(sizes.mesh, sizes.iris);
  }
}
