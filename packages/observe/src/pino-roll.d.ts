/** Types of pino-roll 4 (the package ships none): a SonicBoom stream rolling by size or time. */
declare module 'pino-roll' {
  interface RollStream {
    write(line: string): boolean;
    flushSync(): void;
    end(): void;
  }
  interface RollOptions {
    file: string | (() => string);
    size?: string | number;
    frequency?: 'daily' | 'hourly' | number;
    extension?: string;
    symlink?: boolean;
    mkdir?: boolean;
    limit?: { count?: number; removeOtherLogFiles?: boolean };
    dateFormat?: string;
  }
  export default function pinoRoll(options: RollOptions): Promise<RollStream>;
}
