/**
 * Preloaded into serverless offline's process by the local stack (`node --import`): installs the
 * module hook of fixes.mjs. Plain JavaScript: that process runs without tsx.
 */
import { register } from 'node:module';

register('./fixes.mjs', import.meta.url);
