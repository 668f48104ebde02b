export {
  changeKeystorePassphrase,
  nodePbkdf2,
  nodeScrypt,
  readKeystoreFile,
  readKeystoreFileAddress,
  type WriteKeystoreFileOptions,
  writeKeystoreFile,
} from './keystore-file.ts';
