import { describe, it, expect } from 'vitest';
import { AigcError, CheckpointError, TokenizerError, ConfigError, DataError, HubError, ShapeError, isBadInput } from '../../src/errors.js';

describe('error hierarchy', () => {
  it('sets names, codes and causes', () => {
    const classes = [CheckpointError, TokenizerError, ConfigError, DataError, HubError, ShapeError];
    for (const C of classes) {
      const e = new C('boom');
      expect(e).toBeInstanceOf(AigcError);
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe(C.name);
      expect(e.message).toBe('boom');
      expect(e.code).toBe(C === ShapeError ? 'internal' : 'bad_input');
      expect(isBadInput(e)).toBe(C !== ShapeError);
    }
    expect(new HubError('x', { code: 'internal' }).code).toBe('internal');
    expect(new ShapeError('x', { code: 'bad_input' }).code).toBe('bad_input');
    const cause = new Error('root');
    expect(new DataError('x', { cause }).cause).toBe(cause);
    expect(new AigcError('x').name).toBe('AigcError');
    expect(isBadInput(new Error('x'))).toBe(false);
  });
});
