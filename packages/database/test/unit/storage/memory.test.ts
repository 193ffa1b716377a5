import { MemoryAdapter } from '../../../src/storage/memory';
import { describeStorageAdapter } from './adapter-compliance';

describeStorageAdapter('memory', () => new MemoryAdapter());
