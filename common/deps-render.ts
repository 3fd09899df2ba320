/** Third-party libraries for writing files: templates (handlebars) and unified diffs (jsdiff). See deps-config.ts for the split. */
import Handlebars from 'handlebars';
import { createTwoFilesPatch } from 'diff';

export { Handlebars, createTwoFilesPatch };
