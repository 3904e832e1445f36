// Types for scale-project.mjs (a generated project of many layers for the scale bench and test).
export interface ScaleOptions {
  stages: number;
  steps: number;
  bigBytes: number;
  bigPerStage: number;
  runBytes?: number;
  runPerStage?: number;
  finalBig?: boolean;
  finalFile?: boolean;
  sourceLast?: boolean;
  seed?: string;
}
export function writeScaleProject(dir: string, o: ScaleOptions): Promise<{ layers: number; contextBytes: number }>;
export function changedFile(dir: string, o: ScaleOptions): string;
export function changeOneFile(dir: string, o: ScaleOptions, version: number): Promise<void>;
export function changeFinalFile(dir: string, version: number): Promise<void>;
