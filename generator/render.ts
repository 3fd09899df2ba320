/**
 * Renders the files `hotgen init` generates from the handlebars templates in
 * `templates/`. Pure: returns contents; `generator/init.ts` decides what to write.
 */

export type { RenderedKind, RenderedFile, RenderOptions, RenderResult } from './render-impl.js';
export { renderFiles } from './render-impl.js';
