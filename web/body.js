// A humanoid VRM's body: a natural rest pose instead of the T-pose, a subtle idle motion, and
// the head's turn shared with the neck and upper chest, as a person turns. Works on three-vrm's
// normalized bones, which are the same for VRM 1.0 and 0.x (the character faces +Z, its left
// arm along +X) once the file is loaded; a VRM 0.x rig's normalized bones keep the file's own
// facing (-Z), so its x and z angles change sign.
const ARM_DOWN = 1.15; // radians from the T-pose: upper arms along the body, slightly apart
const ELBOW = 0.25;
const HEAD_SHARE = { head: 0.6, neck: 0.28, upperChest: 0.12 };
const BREATH_S = 4.2;
const SWAY_S = 7.3;

export class Body {
  // A Body for a VRM with arms and a neck, else null (heads, busts, plain glTF).
  static of(vrm) {
    const h = vrm && vrm.humanoid;
    if (!h) return null;
    const bone = (name) => h.getNormalizedBoneNode(name);
    if (!bone("leftUpperArm") || !bone("rightUpperArm") || !bone("head")) return null;
    return new Body(bone, vrm.meta && vrm.meta.metaVersion === "0" ? -1 : 1);
  }

  constructor(bone, flip = 1) {
    this.f = flip;
    this.b = {};
    for (const name of ["hips", "spine", "chest", "upperChest", "neck", "head", "leftUpperArm",
      "rightUpperArm", "leftLowerArm", "rightLowerArm", "leftHand", "rightHand", "leftShoulder",
      "rightShoulder"]) {
      this.b[name] = bone(name) || null;
    }
    // a rig without an upper chest shares that part of the turn with its chest
    this.chest = this.b.upperChest || this.b.chest || this.b.spine;
    this.t = 0;
    this.rest();
  }

  rest() {
    const { b, f } = this;
    b.leftUpperArm.rotation.set(0, 0, -ARM_DOWN * f);
    b.rightUpperArm.rotation.set(0, 0, ARM_DOWN * f);
    if (b.leftLowerArm) b.leftLowerArm.rotation.set(0, -ELBOW, 0);
    if (b.rightLowerArm) b.rightLowerArm.rotation.set(0, ELBOW, 0);
    if (b.leftHand) b.leftHand.rotation.set(0, 0, -0.1 * f);
    if (b.rightHand) b.rightHand.rotation.set(0, 0, 0.1 * f);
  }

  // dt in seconds; pose: the head's turn in radians [pitch x, yaw y, roll z], spread over
  // the bones.
  update(dt, pose) {
    this.t += dt;
    const x = pose[0] * this.f;
    const y = pose[1];
    const z = pose[2] * this.f;
    const breath = Math.sin((2 * Math.PI * this.t) / BREATH_S);
    const sway = Math.sin((2 * Math.PI * this.t) / SWAY_S);
    const b = this.b;
    const f = this.f;
    if (b.spine) b.spine.rotation.set(0.012 * breath * f, 0, 0.01 * sway * f);
    if (this.chest) {
      const s = HEAD_SHARE.upperChest;
      this.chest.rotation.set(x * s + 0.015 * breath * f, y * s, z * s);
    }
    if (b.neck) b.neck.rotation.set(x * HEAD_SHARE.neck, y * HEAD_SHARE.neck, z * HEAD_SHARE.neck);
    const share = b.neck ? HEAD_SHARE.head : HEAD_SHARE.head + HEAD_SHARE.neck;
    b.head.rotation.set(x * share, y * share, z * share, "YXZ");
    // shoulders rise a little with each breath
    if (b.leftShoulder) b.leftShoulder.rotation.set(0, 0, 0.015 * breath * f);
    if (b.rightShoulder) b.rightShoulder.rotation.set(0, 0, -0.015 * breath * f);
  }
}
