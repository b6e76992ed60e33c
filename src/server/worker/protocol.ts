/** Messages between the server (main thread) and its worker threads. */
import type { GeneratedImage, ImageModelInfo, ImageRequest, InterpolateRequest, TextInput, TextModelInfo, TextParams, TextResult, TrainingProgress, TrainingSpec } from '../models.js';

export type ToInference =
  | { t: 'text'; id: number; input: TextInput; params: TextParams; stream: boolean }
  | { t: 'images'; id: number; req: ImageRequest }
  | { t: 'interpolate'; id: number; req: InterpolateRequest }
  | { t: 'cancel'; id: number };

export type FromInference =
  | { t: 'ready'; info: TextModelInfo | ImageModelInfo }
  | { t: 'fatal'; message: string }
  | { t: 'delta'; id: number; text: string }
  | { t: 'done'; id: number; text?: TextResult; images?: GeneratedImage[] }
  | { t: 'error'; id: number; message: string; badInput: boolean; aborted: boolean };

export interface InferenceWorkerData {
  kind: 'text' | 'image';
  id: string;
  /** Model id / directory as given on the command line; undefined: the pipeline's default. */
  spec: string | undefined;
}

export type ToTraining = { t: 'cancel' };
export type FromTraining =
  | { t: 'progress'; p: TrainingProgress }
  | { t: 'done'; modelDir: string }
  | { t: 'error'; message: string; badInput: boolean; aborted: boolean };

export interface TrainingWorkerData {
  spec: TrainingSpec;
}
