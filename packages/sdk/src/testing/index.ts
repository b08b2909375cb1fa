// Helpers for testing code that uses the sdk: a real loopback registry seeded
// with a generated base model and packages, and the generators behind it.

export {
  type RegistryFault,
  type RegistryRequest,
  type RegistryRoute,
  type RegistryServer,
  type RegistryServerOptions,
  startRegistryServer,
} from './registry-server.ts';
export {
  type BaseModelSpec,
  baseModelName,
  baseModelTensors,
  type DeltaSpec,
  defaultPackages,
  deltaPackage,
  encodeSafetensors,
  type PackageSeed,
  type SeedTensor,
  sha256Hex,
  writeBaseModel,
} from './seed.ts';
