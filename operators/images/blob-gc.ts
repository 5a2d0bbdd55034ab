/**
 * The images operator's tool for `listflow blobs gc` (operators/tools.ts `photoStore`): the configured blob
 * store, opened from the same LISTFLOW_IMAGES_* settings a worker reads, as an inventory of stored images.
 */
import { fromEnv, parseConfig } from '../../runtime/config';
import { operatorEnvPrefix } from '../../runtime/settings';
import type { PhotoStore } from '../tools';
import { parseBlobStore, s3EndpointName } from './blob-store/index';
import { type BlobInventory, fsInventory, s3Inventory } from './blob-store/inventory';
import { imagesConfig } from './config';

export const photoStore: PhotoStore = {
  open(env: NodeJS.ProcessEnv): BlobInventory {
    const prefix = operatorEnvPrefix('images');
    const config = parseConfig(imagesConfig, fromEnv(imagesConfig, env, prefix), {
      where: 'images config (environment)',
      envPrefix: prefix,
    });
    const location = parseBlobStore(config.blobStore);
    if (location.kind === 'file') return fsInventory(config.blobRoot);
    const { createS3Client } = require('./blob-store/s3') as typeof import('./blob-store/s3');
    return s3Inventory(createS3Client(config), {
      bucket: location.bucket,
      prefix: location.prefix,
      endpoint: s3EndpointName(config),
    });
  },
};
