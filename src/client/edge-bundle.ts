/**
 * The edge library a page loads from `/public/edge.js` (global `EriEdge`): the publisher page's edge
 * mode uses it, and any web app can, to publish features instead of media.
 */
export { EDGE_FRAME_SIZE, openEdgeAnalysis } from './edge-analysis.js';
export { publishEdge } from './edge-publisher.js';
