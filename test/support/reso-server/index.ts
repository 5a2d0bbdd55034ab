/** The project's RESO Web API test server: see server.ts. */
export { type DatasetOptions, type DeleteStyle, formatMicros, type ListingTruth, ResoDataset } from './dataset';
export { ODataError } from './odata';
export { type Fault, PRESETS, type ResoQuirks } from './quirks';
export {
  type LoggedRequest,
  type ResoServer,
  type ResoServerOptions,
  type ResoSourceDefinition,
  type ResoSourceHandle,
  startResoServer,
} from './server';
export { LOCAL_READINGS, LOCAL_RESO_ENV, LOCAL_RESO_PORT, localResoSources } from './local';
